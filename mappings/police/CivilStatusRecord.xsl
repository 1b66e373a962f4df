<?xml version="1.0" encoding="UTF-8"?>
<!--
  The civil registry's rop:GetMaritalStatusResponse → canonical CivilStatusRecord.
  Dialect: dates dd/mm/yyyy, marital status S/M/D/W, gender 1/2, nationality
  ISO 3166-1 numeric. StatusSince is the registered event's date; a single
  person's record date is the birth registration, which is no marital event,
  so it is left out. Parameter "now" (UTC) is the AsOf time.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:rop="urn:om:rop:civilregistry:2019"
    exclude-result-prefixes="rop">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="now"/>

  <xsl:template match="/rop:GetMaritalStatusResponse">
    <rabt:CivilStatusRecord>
      <rabt:Citizen>
        <rabt:CivilNumber><xsl:value-of select="normalize-space(rop:CivilNo)"/></rabt:CivilNumber>
        <xsl:if test="normalize-space(rop:FullNameAr) != ''">
          <rabt:Name xml:lang="ar"><xsl:value-of select="normalize-space(rop:FullNameAr)"/></rabt:Name>
        </xsl:if>
        <xsl:if test="normalize-space(rop:FullNameEn) != ''">
          <rabt:Name xml:lang="en"><xsl:value-of select="normalize-space(rop:FullNameEn)"/></rabt:Name>
        </xsl:if>
        <rabt:Nationality>
          <xsl:call-template name="alpha3"><xsl:with-param name="numeric" select="normalize-space(rop:NationalityNo)"/></xsl:call-template>
        </rabt:Nationality>
        <rabt:DateOfBirth><xsl:call-template name="date"><xsl:with-param name="d" select="rop:BirthDate"/></xsl:call-template></rabt:DateOfBirth>
        <rabt:Gender>
          <xsl:choose>
            <xsl:when test="normalize-space(rop:GenderCode) = '1'">male</xsl:when>
            <xsl:when test="normalize-space(rop:GenderCode) = '2'">female</xsl:when>
            <xsl:otherwise><xsl:message terminate="yes">unknown GenderCode <xsl:value-of select="rop:GenderCode"/></xsl:message></xsl:otherwise>
          </xsl:choose>
        </rabt:Gender>
      </rabt:Citizen>
      <xsl:variable name="code" select="normalize-space(rop:MaritalStatusCode)"/>
      <rabt:MaritalStatus>
        <xsl:choose>
          <xsl:when test="$code = 'S'">single</xsl:when>
          <xsl:when test="$code = 'M'">married</xsl:when>
          <xsl:when test="$code = 'D'">divorced</xsl:when>
          <xsl:when test="$code = 'W'">widowed</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown MaritalStatusCode <xsl:value-of select="$code"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:MaritalStatus>
      <xsl:if test="$code != 'S'">
        <rabt:StatusSince><xsl:call-template name="date"><xsl:with-param name="d" select="rop:RecordDate"/></xsl:call-template></rabt:StatusSince>
      </xsl:if>
      <xsl:for-each select="rop:SpouseCivilNo">
        <rabt:SpouseCivilNumber><xsl:value-of select="normalize-space(.)"/></rabt:SpouseCivilNumber>
      </xsl:for-each>
      <rabt:SourceRegistry>civil-registry</rabt:SourceRegistry>
      <rabt:AsOf><xsl:value-of select="$now"/></rabt:AsOf>
    </rabt:CivilStatusRecord>
  </xsl:template>

  <!-- dd/mm/yyyy → yyyy-mm-dd -->
  <xsl:template name="date">
    <xsl:param name="d"/>
    <xsl:variable name="v" select="normalize-space($d)"/>
    <xsl:if test="string-length($v) != 10 or substring($v, 3, 1) != '/' or substring($v, 6, 1) != '/'">
      <xsl:message terminate="yes">date <xsl:value-of select="$v"/> is not dd/mm/yyyy</xsl:message>
    </xsl:if>
    <xsl:value-of select="concat(substring($v, 7, 4), '-', substring($v, 4, 2), '-', substring($v, 1, 2))"/>
  </xsl:template>

  <!-- ISO 3166-1 numeric → alpha-3, for the nationalities the registry records -->
  <xsl:template name="alpha3">
    <xsl:param name="numeric"/>
    <xsl:variable name="n" select="format-number(number($numeric), '000')"/>
    <xsl:variable name="table" select="' 512OMN 356IND 050BGD 586PAK 608PHL 360IDN 144LKA 524NPL 818EGY 784ARE 682SAU 048BHR 414KWT 634QAT 887YEM 400JOR 760SYR 422LBN 729SDN 231ETH 404KEN 800UGA 826GBR 840USA '"/>
    <xsl:variable name="found" select="substring(substring-after($table, concat(' ', $n)), 1, 3)"/>
    <xsl:choose>
      <xsl:when test="string-length($numeric) &gt; 0 and string-length($numeric) &lt;= 3 and $found != ''"><xsl:value-of select="$found"/></xsl:when>
      <xsl:otherwise><xsl:message terminate="yes">unknown NationalityNo <xsl:value-of select="$numeric"/></xsl:message></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected rop:GetMaritalStatusResponse, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
