<?xml version="1.0" encoding="UTF-8"?>
<!-- Licensing's canonical ChamberMembershipQuery → the chamber's occi:GetChamberMembership. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:occi="urn:om:occi:membership:1"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:ChamberMembershipQuery">
    <occi:GetChamberMembership>
      <occi:CommercialRegNo><xsl:value-of select="normalize-space(rabt:CRNumber)"/></occi:CommercialRegNo>
    </occi:GetChamberMembership>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical ChamberMembershipQuery, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
