<?xml version="1.0" encoding="UTF-8"?>
<!--
  The police's trf:CheckTransferEligibilityResponse → canonical TransferEligibilityRecord.
  Dialect: dates dd/mm/yyyy; sponsor C (CR number) or P (civil number);
  presence I (inside), T (temporary exit), F (final exit); AbscondFlag Y/N.
  A "Y" without the report's number and date is refused: licensing would
  refuse a transfer on a report nobody can name. Parameter "now" (UTC) is AsOf.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:trf="urn:om:rop:transfer:2024"
    exclude-result-prefixes="trf">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="now"/>

  <xsl:template match="/trf:CheckTransferEligibilityResponse">
    <xsl:if test="normalize-space(trf:NameAr) = '' and normalize-space(trf:NameEn) = ''">
      <xsl:message terminate="yes">the police record of <xsl:value-of select="trf:CivilNo"/> has no name</xsl:message>
    </xsl:if>
    <xsl:variable name="presence" select="normalize-space(trf:PresenceCode)"/>
    <rabt:TransferEligibilityRecord>
      <rabt:Worker>
        <rabt:CivilNumber><xsl:value-of select="normalize-space(trf:CivilNo)"/></rabt:CivilNumber>
        <rabt:PassportNumber><xsl:value-of select="normalize-space(trf:PassportNo)"/></rabt:PassportNumber>
        <xsl:if test="normalize-space(trf:NameAr) != ''">
          <rabt:Name xml:lang="ar"><xsl:value-of select="normalize-space(trf:NameAr)"/></rabt:Name>
        </xsl:if>
        <xsl:if test="normalize-space(trf:NameEn) != ''">
          <rabt:Name xml:lang="en"><xsl:value-of select="normalize-space(trf:NameEn)"/></rabt:Name>
        </xsl:if>
        <rabt:Nationality><xsl:value-of select="normalize-space(trf:NationalityCode)"/></rabt:Nationality>
      </rabt:Worker>
      <rabt:CurrentSponsor>
        <xsl:call-template name="sponsor">
          <xsl:with-param name="type" select="trf:SponsorType"/>
          <xsl:with-param name="id" select="trf:SponsorId"/>
        </xsl:call-template>
      </rabt:CurrentSponsor>
      <rabt:ResidenceExpiry><xsl:call-template name="date"><xsl:with-param name="d" select="trf:ResidenceExpiry"/></xsl:call-template></rabt:ResidenceExpiry>
      <rabt:Presence>
        <xsl:choose>
          <xsl:when test="$presence = 'I'">in-country</xsl:when>
          <xsl:when test="$presence = 'T'">outside</xsl:when>
          <xsl:when test="$presence = 'F'">departed</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown PresenceCode <xsl:value-of select="$presence"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:Presence>
      <xsl:if test="$presence != 'I' and trf:LastExitDate">
        <rabt:LastMovementOn><xsl:call-template name="date"><xsl:with-param name="d" select="trf:LastExitDate"/></xsl:call-template></rabt:LastMovementOn>
      </xsl:if>
      <xsl:if test="normalize-space(trf:AbscondFlag) = 'Y'">
        <xsl:if test="not(trf:AbscondReportNo) or not(trf:AbscondReportDate)">
          <xsl:message terminate="yes">AbscondFlag Y without AbscondReportNo and AbscondReportDate</xsl:message>
        </xsl:if>
        <rabt:AbscondingReport>
          <rabt:ReportNumber><xsl:value-of select="normalize-space(trf:AbscondReportNo)"/></rabt:ReportNumber>
          <rabt:ReportedOn><xsl:call-template name="date"><xsl:with-param name="d" select="trf:AbscondReportDate"/></xsl:call-template></rabt:ReportedOn>
        </rabt:AbscondingReport>
      </xsl:if>
      <rabt:AsOf><xsl:value-of select="$now"/></rabt:AsOf>
    </rabt:TransferEligibilityRecord>
  </xsl:template>

  <xsl:template name="sponsor">
    <xsl:param name="type"/>
    <xsl:param name="id"/>
    <xsl:choose>
      <xsl:when test="normalize-space($type) = 'C'"><rabt:CRNumber><xsl:value-of select="normalize-space($id)"/></rabt:CRNumber></xsl:when>
      <xsl:when test="normalize-space($type) = 'P'"><rabt:CivilNumber><xsl:value-of select="normalize-space($id)"/></rabt:CivilNumber></xsl:when>
      <xsl:otherwise><xsl:message terminate="yes">unknown SponsorType <xsl:value-of select="$type"/></xsl:message></xsl:otherwise>
    </xsl:choose>
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

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected trf:CheckTransferEligibilityResponse, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
