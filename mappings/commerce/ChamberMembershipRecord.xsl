<?xml version="1.0" encoding="UTF-8"?>
<!--
  The chamber's occi:GetChamberMembershipResponse → canonical ChamberMembershipRecord.
  Dialect: grade 0..4 (0 = excellent), status A/L/S (L = lapsed → expired),
  validity end yyyymmdd. Parameter "now" (UTC) is the AsOf time.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:occi="urn:om:occi:membership:1"
    exclude-result-prefixes="occi">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="now"/>

  <xsl:template match="/occi:GetChamberMembershipResponse">
    <rabt:ChamberMembershipRecord>
      <rabt:CRNumber><xsl:value-of select="normalize-space(occi:CommercialRegNo)"/></rabt:CRNumber>
      <rabt:MembershipNumber><xsl:value-of select="normalize-space(occi:MembershipNo)"/></rabt:MembershipNumber>
      <xsl:variable name="grade" select="normalize-space(occi:GradeNo)"/>
      <rabt:Grade>
        <xsl:choose>
          <xsl:when test="$grade = '0'">excellent</xsl:when>
          <xsl:when test="$grade = '1'">first</xsl:when>
          <xsl:when test="$grade = '2'">second</xsl:when>
          <xsl:when test="$grade = '3'">third</xsl:when>
          <xsl:when test="$grade = '4'">fourth</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown GradeNo <xsl:value-of select="$grade"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:Grade>
      <xsl:variable name="to" select="normalize-space(occi:ValidTo)"/>
      <rabt:ValidUntil><xsl:value-of select="concat(substring($to, 1, 4), '-', substring($to, 5, 2), '-', substring($to, 7, 2))"/></rabt:ValidUntil>
      <xsl:variable name="status" select="normalize-space(occi:StatusCode)"/>
      <rabt:Status>
        <xsl:choose>
          <xsl:when test="$status = 'A'">active</xsl:when>
          <xsl:when test="$status = 'L'">expired</xsl:when>
          <xsl:when test="$status = 'S'">suspended</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown StatusCode <xsl:value-of select="$status"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:Status>
      <rabt:AsOf><xsl:value-of select="$now"/></rabt:AsOf>
    </rabt:ChamberMembershipRecord>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected occi:GetChamberMembershipResponse, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
